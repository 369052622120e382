// dcmjs ships no type declarations; the engine uses a small part of its data API.
declare module 'dcmjs';
